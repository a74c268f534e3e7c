// A notification frame's fingerprint: which notification a seq was given to. A session keeps the one
// of its cursor, so that it can tell when Redis lost writes in a failover and handed that seq to
// another notification (docs/protocol.md §6): the same frame seen twice is a duplicate to drop,
// another frame under a seq already sent is a notification the app has not seen.
//
// Every frame starts `{"type":"notification","seq":<seq>,` followed by the notification's id (22
// base64url characters from the dispatcher): the fingerprint hashes what follows the seq, so it is
// about the id, costs a few dozen steps per frame, and allocates nothing. Live frames are Buffers and
// replayed ones strings: both read the same way up to the first non-ASCII character.

const PREFIX_LENGTH = '{"type":"notification","seq":'.length
const SPAN = 32

const digits = (n: number): number => {
  let d = 1
  for (let x = n; x >= 10; x = Math.floor(x / 10)) d++
  return d
}

/** A non-zero 32-bit fingerprint of a notification frame whose seq is `seq`. */
export function frameMark(frame: Buffer | string, seq: number): number {
  const from = PREFIX_LENGTH + digits(seq)
  const to = Math.min(frame.length, from + SPAN)
  let h = 0x811c9dc5 // FNV-1a
  if (typeof frame === 'string') {
    for (let i = from; i < to; i++) {
      const c = frame.charCodeAt(i)
      if (c >= 0x80) break
      h = Math.imul(h ^ c, 0x01000193)
    }
  } else {
    for (let i = from; i < to; i++) {
      const c = frame[i]!
      if (c >= 0x80) break
      h = Math.imul(h ^ c, 0x01000193)
    }
  }
  return h === 0 ? 1 : h
}
