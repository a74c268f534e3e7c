// Preloaded (`node --import`) into every process the benches start. When the bench process disappears
// without cleaning up (SIGKILL, OOM), the child is re-parented; this notices within 200 ms, asks the
// child to stop (SIGTERM) and SIGKILLs it 5 s later. The expected parent pid comes from
// TIDINGS_BENCH_PARENT_PID: `process.ppid` at load time would miss a parent that already died.
const expected = Number(process.env.TIDINGS_BENCH_PARENT_PID)

if (Number.isInteger(expected) && expected > 0) {
  let orphaned = false
  const check = () => {
    if (orphaned || process.ppid === expected) return
    orphaned = true
    clearInterval(timer)
    process.stderr.write(`bench parent-guard: parent ${expected} is gone, stopping ${process.pid}\n`)
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 5000).unref()
    process.kill(process.pid, 'SIGTERM')
  }
  const timer = setInterval(check, 200)
  timer.unref() // never what keeps a process alive
  check()
}
