/**
 * A real server the tests need (radosgw, sshd, verdaccio…). `start` brings it up on 127.0.0.1
 * and returns the environment variables tests read (S3_ENDPOINT, SFTP_PORT, …); `stop` tears it
 * down even after a failed run. Services are started once per test run by global-setup.ts.
 */
export interface TestService {
  name: string
  start(): Promise<Record<string, string>>
  stop(): Promise<void>
}
