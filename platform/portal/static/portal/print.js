/* A button marked data-print prints the page (no inline script on the pages). */
document.addEventListener("click", function (e) {
  var b = e.target.closest && e.target.closest("[data-print]");
  if (b) { window.print(); }
});
