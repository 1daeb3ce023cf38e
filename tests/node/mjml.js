// Compile MJML from stdin with MJML's own compiler (npm mjml) and print the HTML.
// Used by tests/test_reference.py to compare mjml-python's output with the reference.
const mjml2html = require("mjml");
let source = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { source += chunk; });
process.stdin.on("end", () => {
  const result = mjml2html(source, { validationLevel: "soft", keepComments: false, fonts: {} });
  process.stdout.write(result.html);
});
