// The job of the memory case for results: writes <count> small files into the working directory.
// usage: make-files.mjs <count>
import { writeManyFiles } from "../lib/kinds.mjs";

const count = Number(process.argv[2]);
await writeManyFiles(process.cwd(), count, Math.ceil(count / 100), 100, 2000);
