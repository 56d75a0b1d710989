/*
 * wire: the PostgreSQL v3 protocol codec, with no sockets and no state.
 *
 * Framing cuts a byte stream into whole messages; a cursor reads fields with bounds checks
 * (a short or malformed message yields -EPROTO, never a read past the end); helpers build the
 * messages pgfold itself sends (ErrorResponse, ReadyForQuery, ...). Enum values are the wire bytes.
 */
#ifndef PGFOLD_WIRE_H
#define PGFOLD_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "pgwire/buf.h"

/* Frontend (client to server) message types. */
typedef enum {
    FE_BIND = 'B',
    FE_CLOSE = 'C',
    FE_COPY_DATA = 'd',
    FE_COPY_DONE = 'c',
    FE_COPY_FAIL = 'f',
    FE_DESCRIBE = 'D',
    FE_EXECUTE = 'E',
    FE_FLUSH = 'H',
    FE_FUNCTION_CALL = 'F',
    FE_PARSE = 'P',
    FE_PASSWORD = 'p', /* also SASLInitialResponse, SASLResponse, GSSResponse */
    FE_QUERY = 'Q',
    FE_SYNC = 'S',
    FE_TERMINATE = 'X',
} wire_fe_type;

/* Backend (server to client) message types. */
typedef enum {
    BE_AUTH = 'R',
    BE_BACKEND_KEY = 'K',
    BE_BIND_COMPLETE = '2',
    BE_CLOSE_COMPLETE = '3',
    BE_COMMAND_COMPLETE = 'C',
    BE_COPY_BOTH = 'W',
    BE_COPY_DATA = 'd',
    BE_COPY_DONE = 'c',
    BE_COPY_IN = 'G',
    BE_COPY_OUT = 'H',
    BE_DATA_ROW = 'D',
    BE_EMPTY_QUERY = 'I',
    BE_ERROR = 'E',
    BE_FUNCTION_RESULT = 'V',
    BE_NEGOTIATE_VERSION = 'v',
    BE_NO_DATA = 'n',
    BE_NOTICE = 'N',
    BE_NOTIFICATION = 'A',
    BE_PARAM_DESCRIPTION = 't',
    BE_PARAM_STATUS = 'S',
    BE_PARSE_COMPLETE = '1',
    BE_PORTAL_SUSPENDED = 's',
    BE_READY = 'Z',
    BE_ROW_DESCRIPTION = 'T',
} wire_be_type;

/* Startup packet codes (the int32 after the length). */
#define WIRE_PROTO_3 196608          /* 3.0 */
#define WIRE_CANCEL_CODE 80877102
#define WIRE_SSL_CODE 80877103
#define WIRE_GSSENC_CODE 80877104
#define WIRE_STARTUP_MAX 10000 /* PostgreSQL's MAX_STARTUP_PACKET_LENGTH */

/* A bounds-checked read cursor over one message body. */
struct wire_cursor {
    const uint8_t *p;
    size_t left;
    int err; /* sticky -EPROTO once a read ran past the end */
};

void wire_cursor_init(struct wire_cursor *c, const uint8_t *p, size_t n);
uint8_t wire_get_u8(struct wire_cursor *c);
int16_t wire_get_i16(struct wire_cursor *c);
int32_t wire_get_i32(struct wire_cursor *c);
/* A NUL-terminated string inside the message; returns "" and sets err if unterminated. */
const char *wire_get_str(struct wire_cursor *c, size_t *len_out);
/* n raw bytes; returns NULL and sets err if fewer remain. */
const uint8_t *wire_get_bytes(struct wire_cursor *c, size_t n);

/* One framed message: type byte (0 for startup packets), body and total length on the wire. */
struct wire_msg {
    const uint8_t *raw; /* the whole message as it came, type byte and length included */
    uint8_t type;
    const uint8_t *body;
    size_t body_len;
    size_t wire_len;
};

/*
 * Frames the first typed message of p[0..n). Returns 0 with *m filled, -EAGAIN when more bytes
 * are needed, -EPROTO when the length field is below 4, -EMSGSIZE when it exceeds max.
 */
int wire_frame(const uint8_t *p, size_t n, size_t max, struct wire_msg *m)
    __attribute__((warn_unused_result));

/* Same for an untyped startup-phase packet (length includes itself; minimum 8). */
int wire_frame_startup(const uint8_t *p, size_t n, struct wire_msg *m)
    __attribute__((warn_unused_result));

/* Appends an ErrorResponse with severity, SQLSTATE and message. */
void wire_put_error(struct buf *b, const char *severity, const char *sqlstate, const char *message);
/* The same with a DETAIL field (none when detail is NULL). */
void wire_put_error_detail(struct buf *b, const char *severity, const char *sqlstate,
                           const char *message, const char *detail);
void wire_put_ready(struct buf *b, uint8_t status);

/* Field of an ErrorResponse/NoticeResponse body ('S','V','C','M',...); NULL if absent. */
const char *wire_error_field(const uint8_t *body, size_t len, uint8_t field);

#endif
