// `node --import <this file>`: every module the process loads is appended, one URL per line, to the
// file named by LABLOG_TRACE_IMPORTS (the hooks run on the loader's own thread, hence a file).
import { register } from 'node:module';

register(new URL('./import-trace-hooks.js', import.meta.url));
