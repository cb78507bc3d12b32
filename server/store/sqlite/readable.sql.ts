/**
 * The condition "the user may read this experiment": their explicit permission, else the default one.
 * With a default that reads, only an explicit NO_PERMISSIONS hides; without, only an explicit grant shows.
 * `user` is the placeholder the caller binds to the user's id.
 */
export function readableSql(column: string, defaultReadable: boolean, user: string): string {
  return defaultReadable
    ? `${column} NOT IN (SELECT experiment_id FROM experiment_permissions WHERE user_id = ${user} AND permission = 'NO_PERMISSIONS')`
    : `${column} IN (SELECT experiment_id FROM experiment_permissions WHERE user_id = ${user} AND permission <> 'NO_PERMISSIONS')`;
}
