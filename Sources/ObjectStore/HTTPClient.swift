import CCurl
import Foundation

/// Blocking HTTP(S) over libcurl: one transfer at a time on the calling thread, the
/// connection kept for the next request. TLS certificates are always verified.
///
/// Not thread-safe: one client per thread (an `S3Client` owns one).
public final class HTTPClient {
    private let handle: UnsafeMutableRawPointer
    private let caFile: String?
    /// A transfer that moves no byte for this long fails (and may be retried).
    public let stallTimeout: Int
    /// Defaults to ten seconds.
    public let connectTimeout: Int

    private static let initialised: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// - Parameters:
    ///   - caFile: PEM file of the certificate authorities to trust instead of the system's.
    ///   - stallTimeout: seconds without progress after which a transfer fails. Defaults to 30.
    public init(caFile: String? = nil, stallTimeout: Int = 30, connectTimeout: Int = 10) throws {
        guard Self.initialised, let handle = curl_easy_init() else {
            throw HTTPError(code: -1, message: "cannot start libcurl", retryable: false)
        }
        self.handle = handle
        self.caFile = caFile
        self.stallTimeout = stallTimeout
        self.connectTimeout = connectTimeout
    }

    deinit { curl_easy_cleanup(handle) }

    /// Sends `request` with `body` (nil: none) and returns the answer. `receive`, when given,
    /// takes the body of a 2xx answer as it arrives instead of the response holding it.
    ///
    /// - Throws: `HTTPError` when no answer came; an answer of any status is returned.
    public func send(
        _ request: HTTPRequest, body: UnsafeRawBufferPointer? = nil,
        receive: ((UnsafeRawBufferPointer) throws -> Void)? = nil
    ) throws -> HTTPResponse {
        curl_easy_reset(handle)
        let transfer = Transfer(body: body, receive: receive)
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        // Expect: 100-continue costs a round trip per part; a bare Content-Type stops curl adding a form type.
        for line in request.headers.map({ "\($0.0): \($0.1)" }) + ["Expect:"] + (request.headers.contains { $0.0.lowercased() == "content-type" } ? [] : ["Content-Type:"]) {
            headerList = curl_slist_append(headerList, line)
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = request.url.withCString { url in
            errorBuffer.withUnsafeMutableBufferPointer { errors in
                var setup = [
                    pgsweep_curl_set_pointer(handle, CURLOPT_URL, url),
                    pgsweep_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errors.baseAddress),
                    pgsweep_curl_set_pointer(handle, CURLOPT_HTTPHEADER, headerList),
                    pgsweep_curl_set_long(handle, CURLOPT_NOSIGNAL, 1),
                    pgsweep_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT, connectTimeout),
                    pgsweep_curl_set_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1),
                    pgsweep_curl_set_long(handle, CURLOPT_LOW_SPEED_TIME, stallTimeout),
                    pgsweep_curl_set_long(handle, CURLOPT_TCP_KEEPALIVE, 1),
                    pgsweep_curl_set_long(handle, CURLOPT_SSL_VERIFYPEER, 1),
                    pgsweep_curl_set_long(handle, CURLOPT_SSL_VERIFYHOST, 2),
                    pgsweep_curl_set_pointer(handle, CURLOPT_WRITEDATA, context),
                    pgsweep_curl_set_callback(handle, CURLOPT_WRITEFUNCTION, Transfer.write),
                    pgsweep_curl_set_pointer(handle, CURLOPT_HEADERDATA, context),
                    pgsweep_curl_set_callback(handle, CURLOPT_HEADERFUNCTION, Transfer.header),
                    pgsweep_curl_set_pointer(handle, CURLOPT_READDATA, context),
                    pgsweep_curl_set_callback(handle, CURLOPT_READFUNCTION, Transfer.read),
                ]
                let size = curl_off_t(body?.count ?? 0)
                switch request.method {
                case "HEAD": setup.append(pgsweep_curl_set_long(handle, CURLOPT_NOBODY, 1))
                case "PUT":
                    setup.append(pgsweep_curl_set_long(handle, CURLOPT_UPLOAD, 1))
                    setup.append(pgsweep_curl_set_offset(handle, CURLOPT_INFILESIZE_LARGE, size))
                case "POST":
                    setup.append(pgsweep_curl_set_long(handle, CURLOPT_POST, 1))
                    setup.append(pgsweep_curl_set_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, size))
                case "GET": break
                default: setup.append(request.method.withCString { pgsweep_curl_set_pointer(handle, CURLOPT_CUSTOMREQUEST, $0) })
                }
                // libcurl copies string options, so these may point at temporaries.
                if let caFile { setup.append(caFile.withCString { pgsweep_curl_set_pointer(handle, CURLOPT_CAINFO, $0) }) }
                if let failed = setup.first(where: { $0 != CURLE_OK }) { return failed }
                return curl_easy_perform(handle)
            }
        }
        if let error = transfer.error { throw error }
        guard code == CURLE_OK else {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            throw HTTPError(code: Int(code.rawValue), message: "\(request.method) \(request.origin): \(message)", retryable: Self.retryable(code))
        }
        var status = 0
        _ = pgsweep_curl_response_code(handle, &status)
        return HTTPResponse(status: status, headers: transfer.headers, body: transfer.received)
    }

    private static func retryable(_ code: CURLcode) -> Bool {
        [CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
         CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_SSL_CONNECT_ERROR, CURLE_HTTP2, CURLE_HTTP2_STREAM].contains(code)
    }
}
