/**
 * Where the CLI keeps its files. Looked up as: environment override, then the platform's
 * convention.
 * - config folder (credentials.json): ROO_SYNC_CONFIG_DIR, else `$XDG_CONFIG_HOME/roo-sync`
 *   (`~/.config/roo-sync`) on Linux, `~/Library/Application Support/roo-sync` on macOS,
 *   `%APPDATA%\roo-sync` on Windows;
 * - data folder (the device's outbox, sync state, entry cache; backfill journals):
 *   ROO_SYNC_DATA_DIR, else `<config folder>/data` when ROO_SYNC_CONFIG_DIR is set, else
 *   `$XDG_STATE_HOME/roo-sync` (`~/.local/state/roo-sync`) on Linux, `<config folder>/data`
 *   elsewhere.
 */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export interface CliPaths {
  configDir: string;
  credentials: string;
  dataDir: string;
  /** Backfill journals (what --rollback undoes). */
  backfillJournals: string;
}

export function cliPaths(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home = homedir()): CliPaths {
  const abs = (value: string | undefined): string | undefined => (value && isAbsolute(value) ? value : undefined);
  const override = abs(env['ROO_SYNC_CONFIG_DIR']);
  let configDir: string;
  if (override) configDir = override;
  else if (platform === 'win32') configDir = join(env['APPDATA'] || join(home, 'AppData', 'Roaming'), 'roo-sync');
  else if (platform === 'darwin') configDir = join(home, 'Library', 'Application Support', 'roo-sync');
  else configDir = join(abs(env['XDG_CONFIG_HOME']) ?? join(home, '.config'), 'roo-sync');

  let dataDir: string;
  const dataOverride = abs(env['ROO_SYNC_DATA_DIR']);
  if (dataOverride) dataDir = dataOverride;
  else if (override || platform === 'win32' || platform === 'darwin') dataDir = join(configDir, 'data');
  else dataDir = join(abs(env['XDG_STATE_HOME']) ?? join(home, '.local', 'state'), 'roo-sync');
  return { configDir, credentials: join(configDir, 'credentials.json'), dataDir, backfillJournals: join(dataDir, 'backfill') };
}
