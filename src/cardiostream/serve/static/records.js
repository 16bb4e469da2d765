// The recordings browser (being written).
export function mount(root) {
  root.textContent = "Recordings browser: not yet available.";
  return () => {};
}
