// Runs one Skein benchmark in its own process: `node child.mjs NAME '{"tasks":…}'`.
// Prints the figures as one JSON line on stdout; exits 1 with the error on stderr.
const [name, json] = process.argv.slice(2);
try {
  const bench = await import(new URL(`../skein/${name}.mjs`, import.meta.url).href);
  const figures = await bench.run(JSON.parse(json ?? "{}"));
  process.stdout.write(`${JSON.stringify(figures)}\n`);
} catch (error) {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exitCode = 1;
}
