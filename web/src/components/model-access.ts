import { atLeast, currentMe, useSession, type Me, type Permission } from '../session.js';

/** The caller's permission on a model: explicit, else the default; a viewer never above READ (as for experiments). */
export function modelPermission(me: Me, name: string): Permission {
  if (!me.auth_enabled || me.user.role === 'admin') return 'MANAGE';
  const p = me.model_permissions?.find((g) => g.registered_model_name === name)?.permission ?? me.default_permission;
  return me.user.role === 'viewer' && atLeast(p, 'EDIT') ? 'READ' : p;
}

/**
 * What the registry pages ask, with the server's rules (docs/registry.md): reading needs READ; writes
 * (description, tags, stages, aliases, rename, new versions) EDIT; deleting a model or a version and
 * its permissions MANAGE. Creating a model is for every role but viewer.
 */
export function useModelAccess() {
  useSession();
  const me = currentMe();
  return {
    me,
    canCreate: !me.auth_enabled || me.user.role !== 'viewer',
    canEdit: (name: string) => atLeast(modelPermission(me, name), 'EDIT'),
    canManage: (name: string) => atLeast(modelPermission(me, name), 'MANAGE'),
  };
}
