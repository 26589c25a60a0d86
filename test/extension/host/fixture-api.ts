/**
 * In-host access to the fixture assistant (installed under Roo Code's id). Its API type is the
 * fixture's own; `getExtension` would hand a real Roo Code the same way.
 */
import * as vscode from 'vscode';
import type { FixtureAssistantApi } from '../fixture-assistant/extension';

export const ROO_CODE_ID = 'RooVeterinaryInc.roo-cline';

export async function fixtureAssistant(): Promise<FixtureAssistantApi> {
  const extension = vscode.extensions.getExtension<FixtureAssistantApi>(ROO_CODE_ID);
  if (!extension) throw new Error(`the fixture assistant (${ROO_CODE_ID}) is not installed in this host`);
  const api = await extension.activate();
  if (!api.fixture?.isFixture) throw new Error(`${ROO_CODE_ID} is not the test fixture`);
  return api;
}
