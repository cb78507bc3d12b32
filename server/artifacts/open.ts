import path from 'node:path';
import type { StoragePlace } from '../storage/health.js';
import { createLocalArtifactStore, removeStaleUploads } from './local.js';
import type { ArtifactStore } from './types.js';

export interface OpenedArtifacts {
  store: ArtifactStore;
  /** Where /health looks to tell whether artifact writes can be stored. */
  place: StoragePlace;
  /** Clears what uploads of a killed process left (the local store's staging files); none on S3. */
  removeStale: () => Promise<{ files: number; bytes: number }>;
  /** For the start-up log line (no credentials: they come from the environment). */
  describe: string;
}

/**
 * The artifact store the settings name: objects under an `s3://bucket/prefix` URI (credentials and
 * endpoint from the AWS_* variables), else files under `<dataDir>/artifacts`. The AWS SDK is loaded
 * only for a bucket: it takes longer to load than the rest of the server together.
 */
export async function openArtifactStore(artifactsUri: string | undefined, dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<OpenedArtifacts> {
  if (artifactsUri) {
    const [{ createS3ArtifactStore, stagingPrefixOf }, { openS3Location, probeS3 }] = await Promise.all([import('./s3.js'), import('./s3-location.js')]);
    const loc = openS3Location(artifactsUri, env);
    return {
      store: createS3ArtifactStore(loc),
      place: { where: 'the artifact store', probe: () => probeS3(loc, stagingPrefixOf(loc.prefix)) },
      removeStale: async () => ({ files: 0, bytes: 0 }),
      describe: `s3://${loc.bucket}/${loc.prefix}`,
    };
  }
  const dir = path.join(dataDir, 'artifacts');
  return {
    store: createLocalArtifactStore(dir),
    place: { dir, where: 'the artifact store' },
    removeStale: () => removeStaleUploads(dir),
    describe: dir,
  };
}
