// normalize-url (a Mirador dependency) requires Node's 'url' only where URL is missing.
export const { URL } = globalThis;
export default { URL };
