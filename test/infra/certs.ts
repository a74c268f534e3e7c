// A throwaway certificate authority and server/client certificates for the TLS tests, made with the
// machine's `openssl` at test time (nothing secret is committed). Every certificate is valid for
// 127.0.0.1 and localhost, the only addresses the tests use.
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface Certificates {
  dir: string
  /** PEM files. */
  caFile: string
  serverCertFile: string
  /** PKCS#8, unencrypted (what Kafka's PEM key store and redis-server both read). */
  serverKeyFile: string
  clientCertFile: string
  clientKeyFile: string
  /** A second CA that signed nothing here: "the wrong CA" for the failure tests. */
  otherCaFile: string
  ca: string
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir, timeout: 30_000 }).catch(
    (error: { stderr?: string; message: string }) => {
      throw new Error(`openssl ${args[0]} failed: ${error.message}\n${error.stderr ?? ''}`)
    },
  )
}

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, [
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    `${name}.key`,
  ])
  await openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}.key`,
    '-sha256',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-out',
    `${name}.pem`,
  ])
}

async function makeLeaf(dir: string, name: string, usage: string): Promise<void> {
  writeFileSync(
    join(dir, `${name}.ext`),
    `subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`,
  )
  await openssl(dir, [
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    `${name}.key`,
  ])
  await openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`])
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-sha256',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.pem`,
  ])
}

/** A CA, a server certificate, a client certificate and an unrelated CA in a new temp dir. */
export async function makeCertificates(): Promise<Certificates> {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-certs-'))
  await makeCa(dir, 'ca')
  await makeCa(dir, 'other-ca')
  // clientAuth too: Redis Cluster nodes present their certificate to each other on the TLS bus
  await makeLeaf(dir, 'server', 'serverAuth,clientAuth')
  await makeLeaf(dir, 'client', 'clientAuth')
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    serverCertFile: join(dir, 'server.pem'),
    serverKeyFile: join(dir, 'server.key'),
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
    otherCaFile: join(dir, 'other-ca.pem'),
    ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
  }
}
