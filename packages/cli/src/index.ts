export { EXIT_CODES } from "./exit-codes.js";
