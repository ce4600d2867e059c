/* host_api.c - not written yet */
typedef int sy_placeholder_host_api;
