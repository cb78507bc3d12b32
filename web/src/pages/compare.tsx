export function ComparePage(_props: { query: URLSearchParams }) {
  return <div>Compare</div>;
}
