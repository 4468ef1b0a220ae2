/** An option's comma-separated values (`--repositories a,b`), blanks dropped. */
export const commaList = (value: string) => value.split(',').map((item) => item.trim()).filter(Boolean);
