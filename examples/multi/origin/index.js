'use strict';

// Origin-request handler for Lambda@Edge: serves "/" (and any "/dir/") as its index.html, and
// tells the origin which release of this function handled the request. The release marker is part
// of the code: the deploy tool's tests rewrite it to make a new artifact.
const RELEASE = 'origin-1';

exports.handler = async (event) => {
  const request = event.Records[0].cf.request;
  if (request.uri.endsWith('/')) {
    request.uri += 'index.html';
  }
  request.headers['x-edge-release'] = [{ key: 'X-Edge-Release', value: RELEASE }];
  return request;
};
