// Node's MJML + juice on the same edition, for benchmarks/speed.py: MJML's own compiler, then
// juice to inline the CSS (what a Node newsletter tool does). Reads the MJML from the file in
// argv[2]; for each number N on stdin, builds N times and prints the median milliseconds.
// Run from the repository root after `npm ci --prefix tests/node`.
const path = require("path");
const fs = require("fs");
const modules = path.join(__dirname, "..", "tests", "node", "node_modules");
const mjml2html = require(path.join(modules, "mjml"));
const juice = require(path.join(modules, "juice"));
const source = fs.readFileSync(process.argv[2], "utf8");

function build() {
  const html = mjml2html(source, { validationLevel: "skip", keepComments: false, fonts: {} }).html;
  return juice(html, { preserveMediaQueries: true, removeStyleTags: false });
}

let buffer = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  buffer += chunk;
  let newline;
  while ((newline = buffer.indexOf("\n")) >= 0) {
    const count = parseInt(buffer.slice(0, newline), 10);
    buffer = buffer.slice(newline + 1);
    const times = [];
    for (let i = 0; i < count; i++) {
      const start = process.hrtime.bigint();
      build();
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    times.sort((a, b) => a - b);
    process.stdout.write(`${times[Math.floor(times.length / 2)]}\n`);
  }
});
