/**
 * ProtocolError: what a decoder or encoder of the wire format reports. The protocol layer
 * is pure and imports nothing of the project, so it has its own error type; the server maps
 * these codes to the MqError codes of contract.md when it answers a peer.
 *
 * Decoders never throw: they return a `Result`. Encoders throw a ProtocolError only for a
 * value that does not fit its schema (a caller's mistake, reported with the field path).
 */

export type ProtocolErrorCode =
  /** The declared frame length exceeds the decoder's limit. Fatal: the stream is lost. */
  | 'FRAME_TOO_LARGE'
  /** The frame length was fine but its content is not a valid envelope. Not fatal. */
  | 'MALFORMED_FRAME'
  /** A decoder that reported a fatal error was given more input. Fatal. */
  | 'DECODER_CLOSED'
  /** The stream ended inside a frame. */
  | 'TRUNCATED_FRAME'
  /** An envelope body is not a valid record of the schema its request code names. */
  | 'MALFORMED_BODY'
  /** A value given to an encoder does not match the schema. */
  | 'INVALID_VALUE'
  /** Client and server share no protocol version. */
  | 'UNSUPPORTED_VERSION'
  /** The request code is not one this protocol version knows. */
  | 'UNKNOWN_REQUEST_CODE'
  /** A topic or group name breaks the naming rule. */
  | 'INVALID_NAME'
  /** A message body or its properties exceed the configured limits. */
  | 'MESSAGE_TOO_LARGE';

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  /** True when the byte stream cannot be resynchronised: the connection must be closed. */
  readonly fatal: boolean;
  /**
   * The correlation id of the frame that failed, when it could still be read: the server
   * can then answer that request with an error instead of dropping it silently.
   */
  readonly correlationId: number | undefined;

  constructor(code: ProtocolErrorCode, message: string, options: { fatal?: boolean; correlationId?: number } = {}) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.fatal = options.fatal ?? false;
    this.correlationId = options.correlationId;
  }

  override toString(): string {
    return `ProtocolError[${this.code}${this.fatal ? ', fatal' : ''}]: ${this.message}`;
  }
}

/** The outcome of decoding untrusted bytes. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: ProtocolError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function failed<T>(error: ProtocolError): Result<T> {
  return { ok: false, error };
}
