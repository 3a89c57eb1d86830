#ifndef PGSWEEP_CCURL_SHIM_H
#define PGSWEEP_CCURL_SHIM_H
#include <curl/curl.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed
   wrapper per argument kind. */
typedef size_t (*pgsweep_curl_data_callback)(char *, size_t, size_t, void *);

static inline CURLcode pgsweep_curl_set_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode pgsweep_curl_set_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode pgsweep_curl_set_pointer(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode pgsweep_curl_set_callback(CURL *handle, CURLoption option, pgsweep_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode pgsweep_curl_response_code(CURL *handle, long *code) {
    return curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, code);
}
#endif
