/** sql.js's single-file build (WebAssembly embedded as base64): bundles into dist/ with no .wasm file beside it. */
declare module 'sql.js/dist/sql-wasm-inline.js' {
  import initSqlJs from 'sql.js';
  export default initSqlJs;
}
