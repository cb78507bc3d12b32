/** Node-only parts (spool files, git, process signals, system metrics). */
export {};
