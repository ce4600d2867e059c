/* http_parser.c - not written yet */
typedef int sy_placeholder_http_parser;
