// What a request for a directory gets besides its index.html: a 301 to the slash-terminated
// form (so relative links resolve inside it, as nginx does), and with --autoindex a listing.
#pragma once

#include <span>

#include "http/plan.hpp"
#include "http/request.hpp"
#include "zcnet/http/server.hpp"

namespace zcnet::http {

// 301 with Location: the request's path + "/" (its query kept, its encoding untouched).
Plan plan_directory_redirect(const Request& req, bool keep_alive, bool head_only,
                             std::span<char> out);

// 200 with an HTML listing of the directory at the NUL-terminated root-relative `rel`: names
// sorted bytewise, HTML-escaped in the text and percent-encoded in the hrefs, subdirectories
// with a trailing '/', dotfiles only if allowed. The body is written to an anonymous file that
// becomes the Plan's file, so it leaves like any other body. Not a hot path: it allocates.
Plan plan_listing(const Site& site, const char* rel, bool keep_alive, bool http10, bool head_only,
                  std::span<char> out);

namespace detail {
std::string html_escape(std::string_view s);
std::string percent_encode(std::string_view s);  // everything but RFC 3986 unreserved bytes
}  // namespace detail

}  // namespace zcnet::http
