// certs.go: a CA made at start, a server certificate for 127.0.0.1 and
// localhost, and a client certificate (CN lab-admin, O system:masters), all
// signed by that CA and written as PEM files into the state directory.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

type pki struct {
	caCert   *x509.Certificate
	caKey    *ecdsa.PrivateKey
	server   tls.Certificate
	clientCA *x509.CertPool
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

func newCert(tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(7 * 24 * time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, der, err
}

func writeKeyPair(dir, base string, der []byte, key *ecdsa.PrivateKey) error {
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, base+".crt"), "CERTIFICATE", der, 0644); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, base+".key"), "EC PRIVATE KEY", kb, 0600)
}

// makePKI writes ca.crt/ca.key, server.crt/server.key, client.crt/client.key.
func makePKI(dir string) (*pki, error) {
	ca, caKey, caDER, err := newCert(&x509.Certificate{Subject: pkix.Name{CommonName: "runbook-lab-k8s-ca"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}, nil, nil)
	if err != nil {
		return nil, err
	}
	if err := writeKeyPair(dir, "ca", caDER, caKey); err != nil {
		return nil, err
	}
	_, srvKey, srvDER, err := newCert(&x509.Certificate{Subject: pkix.Name{CommonName: "kube-apiserver"},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default.svc"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, caKey)
	if err != nil {
		return nil, err
	}
	if err := writeKeyPair(dir, "server", srvDER, srvKey); err != nil {
		return nil, err
	}
	_, cliKey, cliDER, err := newCert(&x509.Certificate{Subject: pkix.Name{CommonName: "lab-admin", Organization: []string{"system:masters"}},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca, caKey)
	if err != nil {
		return nil, err
	}
	if err := writeKeyPair(dir, "client", cliDER, cliKey); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &pki{caCert: ca, caKey: caKey, server: tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}, clientCA: pool}, nil
}
