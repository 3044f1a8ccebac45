// TLS on the HTTP/WebSocket port when a certificate is configured: providers reach production agent
// servers over wss:// only. NIOSSL (BoringSSL) through Hummingbird's TLS channel; the PEM files are
// read once at start, so a bad path or key stops the server before it listens.

import HummingbirdCore
import HummingbirdTLS
import NIOSSL

func withTLS(_ base: HTTPServerBuilder, _ listen: ServerConfig.Listen) throws -> HTTPServerBuilder {
    guard let certificatePath = listen.tlsCertificate, let keyPath = listen.tlsKey else { return base }
    let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
    let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
    var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
    configuration.minimumTLSVersion = .tlsv12
    return try .tls(base, tlsConfiguration: configuration)
}
