// Select every pending line of the queue at once. Delegated, so it survives htmx swaps.
document.addEventListener("change", (event) => {
  const all = event.target;
  if (!(all instanceof HTMLInputElement) || all.id !== "select-all") return;
  for (const box of document.querySelectorAll('input[name="item"]')) box.checked = all.checked;
});

// Filters left empty stay out of the address, so a filtered queue has a clean, shareable URL.
document.addEventListener("htmx:configRequest", (event) => {
  const params = event.detail.parameters;
  for (const [name, value] of Array.from(params.entries())) {
    if (value === "") params.delete(name);
  }
});
