import { ChoresError } from '../errors.js';

export class StorageError extends ChoresError {}

export class ObjectNotFoundError extends StorageError {
  constructor(readonly location: string) {
    super(`object not found: ${location}`);
  }
}
