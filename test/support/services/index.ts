import {radosgw} from './radosgw.js'
import {sshd} from './sshd.js'
import {verdaccio} from './verdaccio.js'
import type {TestService} from './service.js'

/**
 * Every service the suite starts. Add a service by writing test/support/services/<name>.ts and
 * listing it here; its Debian packages go in scripts/debian-packages.txt.
 */
export const services: TestService[] = [radosgw, sshd, verdaccio]
