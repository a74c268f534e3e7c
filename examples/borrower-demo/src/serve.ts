// Serves the borrower page next to gateways that already run (e.g. the local stack, `pnpm start`):
//
//   node examples/borrower-demo/src/serve.ts [--port 8080] [--host 127.0.0.1]
//        [--gateways http://127.0.0.1:8081,http://127.0.0.1:8082] [--borrower b-1042]
//
// The gateways must allow the page's origin (ALLOWED_ORIGINS; the local stack allows
// http://localhost:8080 and http://127.0.0.1:8080) and accept HS256 tokens signed with JWT_SECRET
// (default: the local stack's development secret).
import { parseArgs } from 'node:util'
import { TEST_JWT_SECRET } from '@tidings/test/support/tokens'
import { startDemoServer } from './server.ts'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    gateways: { type: 'string', default: 'http://127.0.0.1:8081,http://127.0.0.1:8082' },
    borrower: { type: 'string', default: 'b-1042' },
  },
})

const server = await startDemoServer({
  port: Number(values.port),
  host: values.host,
  gatewayUrls: values.gateways.split(',').map((g) => g.trim()),
  jwtSecret: process.env.JWT_SECRET ?? TEST_JWT_SECRET,
  borrowerId: values.borrower,
})
process.stdout.write(
  `borrower demo: ${server.url}/?borrower=${values.borrower}  (gateways ${values.gateways})\n` +
    `  /token signs a token for ANY borrower: a demo shortcut, never run it next to real gateways\n`,
)
const stop = () => void server.close().then(() => process.exit(0))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
