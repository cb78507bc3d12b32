/** A small log-batch body: two loss points, a param and a tag (what tests of a server process log). */
export const sampleBatch = (runId: string) => ({
  run_id: runId,
  metrics: [
    { key: 'loss', value: 0.5, timestamp: 10, step: 1 },
    { key: 'loss', value: 0.25, timestamp: 20, step: 2 },
  ],
  params: [{ key: 'lr', value: '0.01' }],
  tags: [{ key: 'team', value: 'vision' }],
});
