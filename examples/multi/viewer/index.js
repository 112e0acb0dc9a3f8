'use strict';

// Viewer-request handler for Lambda@Edge: sends requests for the bare "/old/" tree to "/new/",
// before the cache is consulted. The release marker is part of the code (Lambda@Edge allows no
// environment variables): the deploy tool's tests rewrite it to make a new artifact.
const RELEASE = 'viewer-1';

exports.handler = async (event) => {
  const request = event.Records[0].cf.request;
  if (request.uri.startsWith('/old/')) {
    return {
      status: '301',
      statusDescription: 'Moved Permanently',
      headers: {
        location: [{ key: 'Location', value: request.uri.replace(/^\/old\//, '/new/') }],
        'x-edge-release': [{ key: 'X-Edge-Release', value: RELEASE }],
      },
    };
  }
  return request;
};
