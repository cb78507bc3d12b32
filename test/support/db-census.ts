// Run as a script (inside another mount namespace, where only a process there sees the file):
// prints {"integrity":"ok","rows":{"runs":2,...}} for the SQLite file named by argv[2], read-only.
// SQLite resolves symbolic links, so a path through /proc/<pid>/root would reach the wrong file.
import Database from 'better-sqlite3';

const db = new Database(process.argv[2], { readonly: true, fileMustExist: true });
const integrity = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
const tables = db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
const rows = Object.fromEntries(tables.map((t) => [t, db.prepare<[], number>(`SELECT count(*) FROM "${t}"`).pluck().get()]));
db.close();
process.stdout.write(JSON.stringify({ integrity, rows }));
