import type { TestCa } from './test-ca';

/**
 * redis-server arguments for TLS on `tlsPort` with the test CA's localhost certificate. The plain
 * port stays open beside it, for the test's own readiness probe; the hub is only given the TLS one.
 * `cluster`: the bus and replication speak TLS too, and nodes announce their TLS port.
 */
export function redisTlsArgs(ca: TestCa, tlsPort: number, options: { authClients: 'yes' | 'no' | 'optional'; cluster?: boolean }): string[] {
  return [
    '--tls-port', String(tlsPort),
    '--tls-cert-file', ca.serverCertFile,
    '--tls-key-file', ca.serverKeyFile,
    '--tls-ca-cert-file', ca.caFile,
    '--tls-auth-clients', options.authClients,
    ...(options.cluster ? ['--tls-cluster', 'yes', '--tls-replication', 'yes'] : []),
  ];
}
