import { en } from 'zod/locales';
import * as z from 'zod/mini';

/**
 * zod for everything under `shared/`: `zod/mini`, the functional API (`z.optional(z.string())` rather
 * than `z.string().optional()`), because every Lambda bundle imports it at init. Classic zod puts
 * every method on every schema it builds and weighs ~90 KiB in each bundle; importing it measured
 * ~20 ms of each cold import, mini ~6 ms (same core, same parsing, same issues). Import it as
 * `import * as z from '../zod.js'`: a namespace import lets esbuild keep only the parts used.
 *
 * Mini loads no locale; classic sets English on its first schema. Set here, so the messages our
 * errors repeat ("Invalid input: expected number, received NaN") stay the same in every process.
 */
z.config(en());

export * from 'zod/mini';
