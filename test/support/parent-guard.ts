// Preloaded (`node --import`) into every process the e2e harness, the local stack and the benches start.
// It ties the child's life to its parent: when the parent disappears (SIGKILL of the test runner,
// a crash, a closed terminal), the child is re-parented and this guard notices within 200 ms, asks
// the service to stop (SIGTERM: the service's own graceful stop) and kills it 5 s later if it is
// still there. Without it a SIGKILLed `node --test` would leave gateways and dispatchers running.
//
// The expected parent pid comes from TIDINGS_PARENT_PID (set by whoever spawns): comparing against
// `process.ppid` at load time would miss a parent that died before this module ran.
const expected = Number(process.env.TIDINGS_PARENT_PID)

if (Number.isInteger(expected) && expected > 0) {
  let orphaned = false
  const check = () => {
    if (orphaned || process.ppid === expected) return
    orphaned = true
    clearInterval(timer)
    process.stderr.write(`parent-guard: parent ${expected} is gone, stopping ${process.pid}\n`)
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 5000).unref()
    process.kill(process.pid, 'SIGTERM')
  }
  // unref: the guard must never be what keeps a service alive
  const timer = setInterval(check, 200)
  timer.unref()
  check()
}
