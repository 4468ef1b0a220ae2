import { ShelfError } from '../errors.js';

/** A bundle that is not imported, with the reason; nothing of it became visible. */
export class BundleRefused extends ShelfError {
  constructor(message: string) {
    super('BUNDLE_REFUSED', 400, message);
  }
}
