/* SPDX-License-Identifier: MIT */
/* mvms-store serve: options for the HTTP server, which lives in src/server/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "server.h"

int cmd_serve(int argc, char **argv)
{
	srv_options o;
	uint64_t v;
	char *end;
	long n;
	int c;

	memset(&o, 0, sizeof(o));
	o.listen = "127.0.0.1:8080";
	o.max_body = 1024ull * 1024 * 1024;
	o.max_json = 256ull * 1024 * 1024;
	o.max_uploads = 16;
	o.timeout = 60;
	o.access_log = 1;
	o.refresh = 1;
	while ((c = cli_getopt(argc, argv, "serve")) != -1) {
		switch (c) {
		case 'l': o.listen = optarg; break;
		case 't':
			n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 1 || n > 64)
				return cli_usage_error("serve", "--threads wants 1 to 64");
			o.threads = (unsigned)n;
			break;
		case 'r': o.read_only = 1; break;
		case 'a': o.allow_anonymous_read = 1; break;
		case 'p': o.port_file = optarg; break;
		case 'b':
			if (cli_parse_size(&v, optarg) < 0 || v < 1024)
				return cli_usage_error("serve", "bad --max-body '%s'", optarg);
			o.max_body = v;
			if (o.max_json > v)
				o.max_json = v;
			break;
		case 'u':
			n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 1 || n > 4096)
				return cli_usage_error("serve", "--max-uploads wants 1 to 4096");
			o.max_uploads = (unsigned)n;
			break;
		case 'T':
			n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 1 || n > 86400)
				return cli_usage_error("serve", "--timeout wants 1 to 86400 seconds");
			o.timeout = (int)n;
			break;
		case 'n': o.access_log = 0; break;
		case 'f':
			o.refresh = strtod(optarg, &end);
			if (*end || end == optarg || !(o.refresh >= 0 && o.refresh <= 86400))
				return cli_usage_error("serve", "--refresh wants 0 to 86400 seconds");
			break;
		case 'h':
			cli_print_usage(cli_find("serve"));
			return EXIT_OK;
		default:
			return cli_bad_option("serve", c);
		}
	}
	if (optind != argc)
		return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
	/* Only init and push make a store: serving a directory a typo named would answer every
	 * client "nothing here" from a new empty store. */
	if ((c = cli_local_only("serve")) != 0 || (c = cli_local_store_exists()) != 0)
		return c;
	o.store_dir = cli_store_dir();
	return srv_run(&o);
}
