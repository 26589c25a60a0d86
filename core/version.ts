/**
 * roo-sync's version (package.json's), for the relay's `/healthz` and a device's sign-in. Read
 * from package.json at build time, so the bundles carry it without the file.
 */
import packageJson from '../package.json';

export const ROO_SYNC_VERSION: string = packageJson.version;
