/** lablog-client: log runs to a lablog (or MLflow) tracking server. */
export const SDK_VERSION = '0.1.0';
