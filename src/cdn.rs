//! CDNs in front of the proxy, as the answers' headers name them, and
//! which answers a CDN wrote itself (its error pages) rather than passed
//! on from the origin.
//!
//! Sources: Cloudflare's docs on its 5xx errors (`cf-ray` is on every
//! proxied answer; its own pages carry `cf-error-type`, "cf-error-details"
//! or "Cloudflare Ray ID", and 520-527/530 are its codes), and each CDN's
//! documented response headers (CloudFront `x-amz-cf-id`, `via: ...
//! (CloudFront)`; Fastly `x-served-by: cache-...`; Google Cloud `via: 1.1
//! google`; Azure Front Door `x-azure-ref`; Akamai `server: AkamaiGHost`;
//! Vercel `x-vercel-id`; Netlify `x-nf-request-id`; bunny.net `server:
//! BunnyCDN`).

/// A CDN (or a provider's edge) that answered the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cdn {
    Cloudflare,
    CloudFront,
    Fastly,
    Akamai,
    GoogleCloud,
    AzureFrontDoor,
    Vercel,
    Netlify,
    Bunny,
}

/// A CDN on an answer's way, the header that says so, and whether the
/// CDN wrote the answer itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub cdn: Cdn,
    /// `cf-ray: 8f...-AMS`: what named it.
    pub header: String,
    /// The answer is the CDN's own (an error page it wrote, a status only
    /// it gives), not the origin's passed on.
    pub answered: bool,
}

impl Cdn {
    pub fn name(self) -> &'static str {
        match self {
            Cdn::Cloudflare => "Cloudflare",
            Cdn::CloudFront => "Amazon CloudFront",
            Cdn::Fastly => "Fastly",
            Cdn::Akamai => "Akamai",
            Cdn::GoogleCloud => "Google Cloud's load balancer",
            Cdn::AzureFrontDoor => "Azure Front Door",
            Cdn::Vercel => "Vercel",
            Cdn::Netlify => "Netlify",
            Cdn::Bunny => "bunny.net",
        }
    }

    /// Which CDN the headers name (`header` looks one up, any case).
    pub fn named_by<'h>(header: &dyn Fn(&str) -> Option<&'h str>) -> Option<(Cdn, String)> {
        let has = |name: &str, needle: &str| {
            header(name)
                .filter(|v| v.to_ascii_lowercase().contains(needle))
                .map(|v| format!("{name}: {v}"))
        };
        let present = |name: &str| header(name).map(|v| format!("{name}: {v}"));
        let found = [
            (
                Cdn::Cloudflare,
                present("cf-ray").or_else(|| has("server", "cloudflare")),
            ),
            (
                Cdn::CloudFront,
                present("x-amz-cf-id").or_else(|| has("via", "cloudfront")),
            ),
            (
                Cdn::Fastly,
                present("x-fastly-request-id").or_else(|| has("x-served-by", "cache-")),
            ),
            (
                Cdn::Akamai,
                has("server", "akamaighost").or_else(|| present("akamai-grn")),
            ),
            (Cdn::GoogleCloud, has("via", "google")),
            (Cdn::AzureFrontDoor, present("x-azure-ref")),
            (Cdn::Vercel, present("x-vercel-id")),
            (
                Cdn::Netlify,
                present("x-nf-request-id").or_else(|| has("server", "netlify")),
            ),
            (Cdn::Bunny, has("server", "bunnycdn")),
        ];
        found
            .into_iter()
            .find_map(|(cdn, why)| why.map(|w| (cdn, w)))
    }

    /// Whether an answer with this status, headers and body is the CDN's
    /// own rather than the origin's.
    pub fn wrote<'h>(
        self,
        status: u16,
        header: &dyn Fn(&str) -> Option<&'h str>,
        body: &str,
    ) -> bool {
        if status < 400 {
            return false;
        }
        match self {
            Cdn::Cloudflare => {
                matches!(status, 520..=527 | 530)
                    || header("cf-error-type").is_some()
                    || body.contains("cf-error-details")
                    || body.contains("Cloudflare Ray ID")
                    // Its nginx-style pages (413, 400) sign with its name.
                    || body.contains("<center>cloudflare</center>")
            }
            Cdn::CloudFront => {
                header("x-cache")
                    .is_some_and(|v| v.to_ascii_lowercase().contains("error from cloudfront"))
                    && body.contains("CloudFront")
            }
            Cdn::Fastly => body.contains("Fastly error") || body.contains("Varnish cache server"),
            Cdn::Akamai => body.contains("Reference&#32;&#35;") || body.contains("AkamaiGHost"),
            Cdn::GoogleCloud => {
                header("server").is_some_and(|v| v.eq_ignore_ascii_case("Google Frontend"))
            }
            Cdn::AzureFrontDoor => body.contains("Azure Front Door"),
            Cdn::Vercel => header("x-vercel-error").is_some(),
            Cdn::Netlify => body.contains("Netlify"),
            Cdn::Bunny => body.contains("BunnyCDN") || body.contains("bunny.net"),
        }
    }
}

/// The CDN an answer came through, where its headers say.
pub fn seen<'h>(status: u16, header: &dyn Fn(&str) -> Option<&'h str>, body: &str) -> Option<Seen> {
    let (cdn, named) = Cdn::named_by(header)?;
    Some(Seen {
        cdn,
        header: named,
        answered: cdn.wrote(status, header, body),
    })
}

/// Cloudflare's codes in words: what its own 52x page says happened.
pub fn cloudflare_status(status: u16) -> Option<&'static str> {
    Some(match status {
        520 => "520: the origin answered something Cloudflare could not read (empty, or reset)",
        521 => "521: the origin refused Cloudflare's connection",
        522 => "522: Cloudflare's connection to the origin timed out",
        523 => "523: the origin could not be reached (DNS or routing)",
        524 => "524: the origin sent nothing within Cloudflare's proxy read timeout",
        525 => "525: the TLS handshake with the origin failed",
        526 => "526: the origin's certificate is invalid",
        527 => "527: Railgun could not reach the origin",
        530 => "530: Cloudflare could not resolve or reach the origin (with a 1xxx error)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'h>(list: &'h [(&'h str, &'h str)]) -> impl Fn(&str) -> Option<&'h str> + 'h {
        move |name: &str| {
            list.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        }
    }

    #[test]
    fn cloudflare_is_named_by_its_ray_and_its_pages_told_from_the_origins() {
        let h = [("Server", "cloudflare"), ("CF-RAY", "8f1c2d3e4f5a6b7c-AMS")];
        let got = seen(200, &headers(&h), "").unwrap();
        assert_eq!((got.cdn, got.answered), (Cdn::Cloudflare, false));
        assert_eq!(got.header, "cf-ray: 8f1c2d3e4f5a6b7c-AMS");
        assert!(seen(524, &headers(&h), "").unwrap().answered);
        // The origin's own 502 passed on is not Cloudflare's.
        assert!(
            !seen(502, &headers(&h), "<center>nginx/1.22.1</center>")
                .unwrap()
                .answered
        );
        let page = "<html><head><title>413 Request Entity Too Large</title></head><body>\
                    <center><h1>413 Request Entity Too Large</h1></center><hr><center>cloudflare</center>";
        assert!(seen(413, &headers(&h), page).unwrap().answered);
    }

    #[test]
    fn other_cdns_by_their_headers_and_none_for_a_plain_proxy() {
        let cloudfront = [
            ("Via", "1.1 abc.cloudfront.net (CloudFront)"),
            ("X-Cache", "Hit from cloudfront"),
        ];
        assert_eq!(
            seen(200, &headers(&cloudfront), "").unwrap().cdn,
            Cdn::CloudFront
        );
        let google = [("via", "1.1 google")];
        assert_eq!(
            seen(200, &headers(&google), "").unwrap().cdn,
            Cdn::GoogleCloud
        );
        let nginx = [("Server", "nginx/1.22.1"), ("Via", "1.1 proxy")];
        assert_eq!(seen(502, &headers(&nginx), ""), None);
    }
}
