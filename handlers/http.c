/* Response helpers shared by every handler. */
#include "handlers/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

void http_response_init(struct http_response *res)
{
    res->status = 500;
    res->content_type = "application/json";
    buf_init(&res->body, 0);
    res->nheaders = 0;
    memset(&res->stream, 0, sizeof(res->stream));
}

void http_response_free(struct http_response *res)
{
    /* A stream the server did not take is closed here. */
    if (res->stream.read && res->stream.close)
        res->stream.close(res->stream.cls);
    memset(&res->stream, 0, sizeof(res->stream));
    buf_free(&res->body);
    for (int i = 0; i < res->nheaders; i++) {
        free(res->headers[i].name);
        free(res->headers[i].value);
    }
    res->nheaders = 0;
}

void http_response_header(struct http_response *res, const char *name, const char *value)
{
    if (res->nheaders == HTTP_MAX_HEADERS)
        return;
    res->headers[res->nheaders].name = xstrdup(name);
    res->headers[res->nheaders].value = xstrdup(value);
    res->nheaders++;
}

void http_response_json(struct http_response *res, int status, const cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    res->status = status;
    res->content_type = "application/json";
    buf_reset(&res->body);
    buf_puts(&res->body, text ? text : "null");
    cJSON_free(text);
}

void http_response_error(struct http_response *res, const struct http_request *req, int status,
                         const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "code", code);
    cJSON_AddStringToObject(err, "message", msg);
    cJSON_AddStringToObject(err, "request_id", req ? req->request_id : "");
    http_response_json(res, status, root);
    cJSON_Delete(root);
}
