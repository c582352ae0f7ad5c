// Compile a batch of solc standard-JSON inputs with the pinned solc-js.
//
// Usage: node compile.js <root>   (reads JSON from stdin, writes JSON to stdout)
//   stdin:  {"jobs": [<standard-JSON input>, ...]}
//   stdout: {"version": <solc.version()>, "outputs": [<standard-JSON output>, ...]}
//
// Driven by scripts/build_contracts.py; one node process compiles every job so
// the soljson start-up cost is paid once. Imports resolve to files under
// <root> (the repository): source unit names are repository-relative paths,
// and a name that is absolute or climbs out of <root> is refused.
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

function importResolver(root) {
  return function findImports(unitName) {
    const resolved = path.resolve(root, unitName);
    if (path.isAbsolute(unitName) || !resolved.startsWith(root + path.sep)) {
      return { error: "import outside the repository: " + unitName };
    }
    try {
      return { contents: fs.readFileSync(resolved, "utf8") };
    } catch (err) {
      return { error: "cannot read " + unitName + ": " + err.code };
    }
  };
}

function main() {
  const root = path.resolve(process.argv[2] || ".");
  const request = JSON.parse(fs.readFileSync(0, "utf8"));
  const findImports = importResolver(root);
  const outputs = request.jobs.map((job) =>
    JSON.parse(solc.compile(JSON.stringify(job), { import: findImports }))
  );
  process.stdout.write(JSON.stringify({ version: solc.version(), outputs: outputs }));
}

main();
