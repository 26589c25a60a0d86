DROP TABLE IF EXISTS blob_upload_pieces;
DROP TABLE IF EXISTS blob_uploads;
