// MathJax configuration for pymdownx.arithmatex (generic mode): $...$ / \(...\) inline,
// $$...$$ / \[...\] display. Re-typesets after Material's instant navigation.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex"
  }
};

if (typeof document$ !== "undefined") {
  document$.subscribe(() => {
    MathJax.typesetPromise();
  });
}
