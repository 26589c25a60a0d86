/**
 * The `changes` reply to a `pull`, written as UTF-8 JSON straight from the stored rows: each
 * body goes out as the text the database holds (valid JSON: the column is `json`), never
 * parsed and re-serialised. For a page of 500 changes that was a third of the reply's CPU.
 */
import type { RequestId } from '../../core/ids';
import type { StoredPage } from '../db/change-log';
import type { Utf8Writer } from './utf8-writer';

/** Writes `{"type":"changes","replyTo":…,"changes":[…],"cursor":…,"hasMore":…}` for `page`. */
export function writePullReply(writer: Utf8Writer, replyTo: RequestId, page: StoredPage): Uint8Array {
  writer.reset().text(`{"type":"changes","replyTo":${JSON.stringify(replyTo)},"changes":[`);
  const { rows } = page;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    // One write per change (each write has a fixed cost). device_id is a uuid column: its text
    // needs no escaping; entity is free text.
    writer.text(
      `${i === 0 ? '' : ','}{"seq":${row.seq},"deviceId":"${row.device_id}","clientSeq":${row.client_seq},` +
        `"baseSeq":${row.base_seq ?? 'null'},"entity":${JSON.stringify(row.entity)},"body":${row.body}}`,
    );
  }
  return writer.text(`],"cursor":${page.cursor},"hasMore":${page.hasMore}}`).bytes();
}
