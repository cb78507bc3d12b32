import { defineConfig } from 'drizzle-kit';

// The PostgreSQL schema's migrations; `npm run db:generate` runs this beside drizzle.config.ts (SQLite).
export default defineConfig({
  dialect: 'postgresql',
  schema: './server/store/postgres/schema.ts',
  out: './migrations/postgres',
});
