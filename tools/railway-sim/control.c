/* control: the control endpoints (no auth) tests use to drive and inspect the simulator:
 * /_sim/state, /_sim/config, /_sim/reset, /_sim/push (a GitHub push), /_sim/service (a
 * service's deploy triggers), /_sim/drift (changes by hand) and /_sim/services (many services).
 *
 * Threading: runs on libmicrohttpd's connection threads; every call into the simulator holds
 * sim.lock, and the request body is parsed outside it. */
#include <pthread.h>
#include <string.h>

#include "server.h"

/* ---- control endpoints ------------------------------------------------------------------------
 */

/* A simulator call that takes the request's JSON body and builds the answer (or fails with
 * err): /_sim/push, /_sim/service, /_sim/drift and /_sim/services. */
typedef int (*sim_body_call)(struct sim *s, const cJSON *body, cJSON **out, char *err,
                             size_t errsize);

static void control_call(struct server *srv, struct request *req, struct reply *r,
                         sim_body_call call)
{
    cJSON *body = cJSON_ParseWithLength(req->body.data ? req->body.data : "", req->body.len);
    cJSON *doc = NULL;
    char err[256];

    pthread_mutex_lock(&srv->sim.lock);
    int rc = call(&srv->sim, body, &doc, err, sizeof(err));
    pthread_mutex_unlock(&srv->sim.lock);
    cJSON_Delete(body);
    if (rc < 0) {
        doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "error", err);
    }
    reply_json(r, rc < 0 ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_OK, doc);
}

void control_handle(struct server *srv, const char *method, const char *url, struct request *req,
                    struct reply *r)
{
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    char err[256];
    cJSON *doc;

    if (strcmp(url, "/_sim/state") == 0 && get) {
        pthread_mutex_lock(&srv->sim.lock);
        doc = sim_state_json(&srv->sim);
        pthread_mutex_unlock(&srv->sim.lock);
        reply_json(r, MHD_HTTP_OK, doc);
    } else if (strcmp(url, "/_sim/config") == 0 && (get || post)) {
        cJSON *patch = NULL;
        int rc = 0;

        if (post) {
            patch = cJSON_ParseWithLength(req->body.data ? req->body.data : "", req->body.len);
            if (patch == NULL) {
                rc = -1;
                snprintf(err, sizeof(err), "the body must be a JSON object");
            }
        }
        pthread_mutex_lock(&srv->sim.lock);
        if (post && rc == 0)
            rc = sim_config_apply(&srv->sim, patch, err, sizeof(err));
        doc = cJSON_CreateObject();
        if (rc < 0) {
            cJSON_AddStringToObject(doc, "error", err);
        } else {
            cJSON_AddBoolToObject(doc, "ok", true);
            cJSON_AddItemToObject(doc, "config", sim_config_json(&srv->sim));
        }
        pthread_mutex_unlock(&srv->sim.lock);
        cJSON_Delete(patch);
        reply_json(r, rc < 0 ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_OK, doc);
    } else if (strcmp(url, "/_sim/reset") == 0 && post) {
        pthread_mutex_lock(&srv->sim.lock);
        sim_reset(&srv->sim);
        pthread_mutex_unlock(&srv->sim.lock);
        doc = cJSON_CreateObject();
        cJSON_AddBoolToObject(doc, "ok", true);
        reply_json(r, MHD_HTTP_OK, doc);
    } else if (strcmp(url, "/_sim/push") == 0 && post) {
        control_call(srv, req, r, sim_push);
    } else if (strcmp(url, "/_sim/service") == 0 && post) {
        control_call(srv, req, r, sim_service_control);
    } else if (strcmp(url, "/_sim/drift") == 0 && post) {
        control_call(srv, req, r, sim_drift); /* tools/railway-sim/snapshot.c */
    } else if (strcmp(url, "/_sim/services") == 0 && post) {
        control_call(srv, req, r, sim_services_bulk);
    } else if (strcmp(url, "/_sim/state") == 0 || strcmp(url, "/_sim/config") == 0 ||
               strcmp(url, "/_sim/reset") == 0 || strcmp(url, "/_sim/push") == 0 ||
               strcmp(url, "/_sim/service") == 0 || strcmp(url, "/_sim/drift") == 0 ||
               strcmp(url, "/_sim/services") == 0) {
        r->allow = strcmp(url, "/_sim/state") == 0    ? "GET"
                   : strcmp(url, "/_sim/config") == 0 ? "GET, POST"
                                                      : "POST";
        doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "error", "method not allowed");
        reply_json(r, MHD_HTTP_METHOD_NOT_ALLOWED, doc);
    } else {
        doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "error", "not found");
        reply_json(r, MHD_HTTP_NOT_FOUND, doc);
    }
}
