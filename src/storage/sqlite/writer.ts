// The SQLite writer runs in a worker thread so that fsync never blocks request handling.
// It applies batches of writes in one transaction (group commit) and answers only after the
// commit returned, i.e. after the WAL was fsynced: nothing is acknowledged before it is durable.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { openDatabase, type Row } from './schema.js';

export type WriteOp =
  | { op: 'create'; key: string; value: string }
  | { op: 'update'; key: string; value: string; expected: number }
  | { op: 'delete'; key: string; expected?: number }
  | { op: 'compact'; revision: number };

/** Outcome of one op. `row` is the new log row (for delete: the tombstone, whose value is the last value). */
export type WriteResult =
  | { ok: true; row: Row; prevValue?: string }
  | { ok: false; code: 'KeyExists' | 'NotFound' | 'Conflict'; current?: Row };

export interface WriteBatch {
  id: number;
  ops: WriteOp[];
}
export interface WriteReply {
  id: number;
  results?: WriteResult[];
  error?: string;
}

function run(file: string, unsafeNoFsync: boolean) {
  const db = openDatabase(file, { unsafeNoFsync });
  const port = parentPort!;
  const liveRow = db.prepare<[string], Row>('SELECT kv.* FROM live JOIN kv ON kv.id = live.id WHERE live.name = ?');
  // Revisions are assigned here (this thread is the only writer), so a create knows its own
  // revision without a second statement.
  const insert = db.prepare<[number, string, number, number, number, string]>(
    'INSERT INTO kv(id, name, deleted, create_revision, prev_revision, value) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const lastRevision = db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'kv'");
  const setLive = db.prepare<[string, number]>(
    'INSERT INTO live(name, id) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET id = excluded.id',
  );
  const dropLive = db.prepare<[string]>('DELETE FROM live WHERE name = ?');
  // Keep, for every key, its state as of the compacted revision (the newest row at or below it,
  // unless that row is a tombstone): lists at later revisions still need it.
  const compactRows = db.prepare<{ rev: number }>(
    `DELETE FROM kv WHERE id <= @rev AND (deleted = 1 OR id < (SELECT MAX(k2.id) FROM kv k2 WHERE k2.name = kv.name AND k2.id <= @rev))`,
  );
  const setMeta = db.prepare<[string, number]>(
    'INSERT INTO meta(k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v',
  );
  let last = lastRevision.get()?.seq ?? 0;

  // Replies leave out values the caller sent itself (create/update): copying them back costs.
  const apply = (o: WriteOp): WriteResult => {
    if (o.op === 'compact') {
      compactRows.run({ rev: o.revision });
      setMeta.run('compacted', o.revision);
      return {
        ok: true,
        row: { id: o.revision, name: '', deleted: 0, create_revision: 0, prev_revision: 0, value: '' },
      };
    }
    const cur = liveRow.get(o.key);
    if (o.op === 'create') {
      if (cur) return { ok: false, code: 'KeyExists', current: cur };
      const id = ++last;
      insert.run(id, o.key, 0, id, 0, o.value);
      setLive.run(o.key, id);
      return { ok: true, row: { id, name: o.key, deleted: 0, create_revision: id, prev_revision: 0, value: '' } };
    }
    if (!cur) return { ok: false, code: 'NotFound' };
    if (o.expected !== undefined && o.expected !== cur.id) return { ok: false, code: 'Conflict', current: cur };
    const id = ++last;
    if (o.op === 'update') {
      insert.run(id, o.key, 0, cur.create_revision, cur.id, o.value);
      setLive.run(o.key, id);
      return {
        ok: true,
        row: { id, name: o.key, deleted: 0, create_revision: cur.create_revision, prev_revision: cur.id, value: '' },
      };
    }
    // delete: the tombstone keeps the last value so that watchers and history can show it.
    insert.run(id, o.key, 1, cur.create_revision, cur.id, cur.value);
    dropLive.run(o.key);
    return {
      ok: true,
      row: {
        id,
        name: o.key,
        deleted: 1,
        create_revision: cur.create_revision,
        prev_revision: cur.id,
        value: cur.value,
      },
      prevValue: cur.value,
    };
  };
  const applyAll = db.transaction((batches: WriteBatch[]) => batches.map((b) => b.ops.map(apply)));

  const commit = (batches: WriteBatch[]) => {
    if (!batches.length) return;
    let replies: WriteReply[];
    try {
      replies = applyAll(batches).map((results, i) => ({ id: batches[i].id, results }));
    } catch (err) {
      last = lastRevision.get()?.seq ?? 0; // the transaction rolled back: so did the revisions
      const error = err instanceof Error ? err.message : String(err);
      replies = batches.map((b) => ({ id: b.id, error }));
    }
    port.postMessage(replies);
  };

  port.on('message', (first: WriteBatch | 'close') => {
    // Group commit: everything queued while the last commit was fsyncing goes into one transaction.
    const batches: WriteBatch[] = [];
    for (
      let msg: WriteBatch | 'close' | undefined = first;
      msg !== undefined;
      msg = receiveMessageOnPort(port)?.message
    ) {
      if (msg === 'close') {
        commit(batches.splice(0));
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.close();
        port.postMessage([{ id: -1 }]);
        return;
      }
      batches.push(msg);
    }
    commit(batches);
  });
  port.postMessage([{ id: 0 }]);
}

if (parentPort && workerData?.file) run(workerData.file as string, workerData.unsafeNoFsync === true);
